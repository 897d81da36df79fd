#!/usr/bin/env python3
"""Makes the damaged VHD fixtures, one per validation rule (see README.md).

Run from this directory: python3 make_fixtures.py
Good images come from `qemu-img create -f vpc`; differencing images (which qemu cannot
make) come from the small writer below, written from the VHD facts (big-endian fields,
ones'-complement byte-sum checksums, MSB-first bitmaps). Every file stays a few KiB:
the hand-made images use 4 KiB blocks.
"""
import os
import struct
import subprocess

SECTOR = 512
UUID_BASE = bytes(range(0x10, 0x20))
UUID_CHILD = bytes(range(0x20, 0x30))
UUID_OTHER = bytes(range(0x30, 0x40))


def checksum(buf, field):
    total = sum(b for i, b in enumerate(buf) if not field <= i < field + 4)
    return (~total) & 0xFFFFFFFF


def footer(disk_type, size, uuid, creator=b"pyfx"):
    b = bytearray(512)
    b[0:8] = b"conectix"
    struct.pack_into(">IIQI4sII", b, 8, 2, 0x00010000, 512, 0x2D000000, creator, 0x00010000, 0)
    struct.pack_into(">QQII", b, 40, size, size, 0, disk_type)  # geometry 0: smallest, always valid
    b[68:84] = uuid
    struct.pack_into(">I", b, 64, checksum(b, 64))
    return b


def header(entries, block_size, parent_uuid=bytes(16), parent_name="", locators=()):
    b = bytearray(1024)
    b[0:8] = b"cxsparse"
    struct.pack_into(">QQIII", b, 8, 0xFFFFFFFFFFFFFFFF, 1536, 0x00010000, entries, block_size)
    b[40:56] = parent_uuid
    name = parent_name.encode("utf-16-be")
    b[64:64 + len(name)] = name
    for i, (code, space, length, offset) in enumerate(locators):
        struct.pack_into(">4sIIIQ", b, 576 + 24 * i, code, space, length, 0, offset)
    struct.pack_into(">I", b, 36, checksum(b, 36))
    return b


def image(path, disk_type=3, uuid=UUID_BASE, size=2 << 20, block_size=4096, blocks=None,
          parent_uuid=bytes(16), parent_path=None):
    """A VHD with 4 KiB blocks: {block index: fill byte} become fully written blocks."""
    blocks = blocks or {}
    entries = size // block_size
    bat_bytes = (entries * 4 + SECTOR - 1) // SECTOR * SECTOR
    pos = 1536 + bat_bytes
    locators, payloads = [], []
    if parent_path is not None:
        for code in (b"MacX", b"W2ku", b"W2ru"):
            if code == b"MacX":
                data = ("file://" + parent_path).encode()
            else:
                data = (".\\" + parent_path.replace("/", "\\")).encode("utf-16-le")
            locators.append((code, SECTOR, len(data), pos))
            payloads.append((pos, data))
            pos += SECTOR
    bat = [0xFFFFFFFF] * entries
    body = []
    for index, fill in sorted(blocks.items()):
        bat[index] = pos // SECTOR
        body.append((pos, b"\xff" * SECTOR + bytes([fill]) * block_size))
        pos += SECTOR + block_size
    out = bytearray(pos + 512)
    f = footer(disk_type, size, uuid)
    out[0:512] = f
    out[512:1536] = header(entries, block_size, parent_uuid, os.path.basename(parent_path or ""), locators)
    out[1536:1536 + bat_bytes] = b"\xff" * bat_bytes
    for i, e in enumerate(bat):
        struct.pack_into(">I", out, 1536 + 4 * i, e)
    for at, data in payloads + body:
        out[at:at + len(data)] = data
    out[pos:pos + 512] = f
    with open(path, "wb") as fh:
        fh.write(out)


def patch(path, offset, data):
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(data)


def read(path, offset, length):
    with open(path, "rb") as fh:
        fh.seek(offset)
        return bytearray(fh.read(length))


def reseal(path, offset, size, field):
    """Recomputes the checksum of the structure at offset (512 or 1024 bytes)."""
    b = read(path, offset, size)
    struct.pack_into(">I", b, field, checksum(b, field))
    patch(path, offset, b)


def qemu_dynamic(path):
    subprocess.run(["qemu-img", "create", "-q", "-f", "vpc", "-o", "subformat=dynamic,force_size=on", path, "4M"],
                   check=True)


def both_footers(path):
    return [0, os.path.getsize(path) - 512]


def main():
    # Good images: the reference the damaged ones start from.
    qemu_dynamic("good-dynamic.vhd")
    image("good-base.vhd", blocks={0: 0xB0, 3: 0xB3})
    image("good-diff.vhd", disk_type=4, uuid=UUID_CHILD, parent_uuid=UUID_BASE, parent_path="good-base.vhd",
          blocks={3: 0xD3, 5: 0xD5})

    # truncated: the file ends inside the dynamic disk header.
    qemu_dynamic("truncated.vhd")
    os.truncate("truncated.vhd", 1024)

    # bad-cookie: the dynamic header's cookie is "cxsparsX".
    qemu_dynamic("bad-cookie.vhd")
    patch("bad-cookie.vhd", 512 + 7, b"X")

    # bad-footer-checksum: one reserved byte changed in both footer copies, checksum kept.
    qemu_dynamic("bad-footer-checksum.vhd")
    for at in both_footers("bad-footer-checksum.vhd"):
        patch("bad-footer-checksum.vhd", at + 100, b"\x01")

    # bad-header-checksum: one reserved header byte changed, checksum kept.
    qemu_dynamic("bad-header-checksum.vhd")
    patch("bad-header-checksum.vhd", 512 + 800, b"\x01")

    # bat-past-eof: BAT[0] points at sector 0x100000 (512 MiB into a 2.5 KiB file).
    qemu_dynamic("bat-past-eof.vhd")
    patch("bat-past-eof.vhd", 1536, struct.pack(">I", 0x100000))

    # bat-in-metadata: BAT[0] points at sector 3, the BAT itself.
    qemu_dynamic("bat-in-metadata.vhd")
    patch("bat-in-metadata.vhd", 1536, struct.pack(">I", 3))

    # bat-overlap: two allocated 4 KiB blocks, BAT[3] moved one sector into block 0.
    image("bat-overlap.vhd", blocks={0: 0x11, 3: 0x33})
    first = struct.unpack(">I", read("bat-overlap.vhd", 1536, 4))[0]
    patch("bat-overlap.vhd", 1536 + 12, struct.pack(">I", first + 1))

    # block-size-npot / block-size-4m: header block size 3 MiB / 4 MiB, checksum resealed.
    for name, value in (("block-size-npot.vhd", 0x00300000), ("block-size-4m.vhd", 0x00400000)):
        qemu_dynamic(name)
        patch(name, 512 + 32, struct.pack(">I", value))
        reseal(name, 512, 1024, 36)

    # size-over-limit: current size 2041 GiB in both footers, checksums resealed.
    qemu_dynamic("size-over-limit.vhd")
    for at in both_footers("size-over-limit.vhd"):
        patch("size-over-limit.vhd", at + 48, struct.pack(">Q", 2041 << 30))
        reseal("size-over-limit.vhd", at, 512, 64)

    # parent-loop: a differencing disk whose parent is itself (UUID and locators).
    image("parent-loop.vhd", disk_type=4, uuid=UUID_CHILD, parent_uuid=UUID_CHILD, parent_path="parent-loop.vhd")

    # parent-missing: the parent file does not exist.
    image("parent-missing.vhd", disk_type=4, uuid=UUID_CHILD, parent_uuid=UUID_BASE, parent_path="no-such-parent.vhd")

    # parent-mismatch: names good-base.vhd but expects another UUID.
    image("parent-mismatch.vhd", disk_type=4, uuid=UUID_CHILD, parent_uuid=UUID_OTHER, parent_path="good-base.vhd")

    # locator-corrupt: the first locator's data offset points past the end of the file.
    image("locator-corrupt.vhd", disk_type=4, uuid=UUID_CHILD, parent_uuid=UUID_BASE, parent_path="good-base.vhd")
    patch("locator-corrupt.vhd", 512 + 576 + 16, struct.pack(">Q", 1 << 30))
    reseal("locator-corrupt.vhd", 512, 1024, 36)


if __name__ == "__main__":
    main()
