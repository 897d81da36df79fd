#!/bin/sh
# Installs the SMAPIv1 plugin where XAPI looks for SR drivers.
#
#   scripts/install-sm-plugins.sh [DIR]      (DIR defaults to /opt/xensource/sm)
#
# XAPI runs every executable named <Name>SR in its SM directory (xapi.conf `sm-dir`) as the
# driver of SR type <name>. One binary serves every type: it is installed once as
# DIR/sm-plugin and linked as DIR/<Name>SR for each type the engine drives (FileSR, NFSSR);
# the binary reads its type from the name it was invoked by. Its helpers are installed next
# to it when they were built: sm-tapdisk, the data-path daemon vdi_attach starts, and sm-gc,
# the background collector started after vdi_delete and sr_scan (SM's cleanup.py).
#
# The binaries come from $SM_PLUGIN_BINARY / $SM_TAPDISK_BINARY / $SM_GC_BINARY, else from
# this checkout's release build (run `swift build -c release` first).
set -eu

dest=${1:-/opt/xensource/sm}
types="File NFS"

here=$(cd "$(dirname "$0")/.." && pwd)
if [ -n "${SM_PLUGIN_BINARY:-}" ]; then
    plugin=$SM_PLUGIN_BINARY
else
    plugin=$here/.build/release/sm-plugin
fi
if [ ! -x "$plugin" ]; then
    echo "install-sm-plugins: no sm-plugin binary at $plugin (run 'swift build -c release' or set SM_PLUGIN_BINARY)" >&2
    exit 1
fi
tapdisk=${SM_TAPDISK_BINARY:-$(dirname "$plugin")/sm-tapdisk}
gc=${SM_GC_BINARY:-$(dirname "$plugin")/sm-gc}

# Copy to a temporary name and rename, so a running XAPI never execs a half-written file.
install_binary() {
    cp "$1" "$dest/.$2.new"
    chmod 755 "$dest/.$2.new"
    mv -f "$dest/.$2.new" "$dest/$2"
}

mkdir -p "$dest"
install_binary "$plugin" sm-plugin
if [ -x "$tapdisk" ]; then
    install_binary "$tapdisk" sm-tapdisk
else
    echo "install-sm-plugins: sm-tapdisk not found at $tapdisk; vdi_attach will answer VDIUnavailable" >&2
fi
if [ -x "$gc" ]; then
    install_binary "$gc" sm-gc
else
    echo "install-sm-plugins: sm-gc not found at $gc; the collector will run in the foreground" >&2
fi

for t in $types; do
    # Keep an existing driver of the same name (XenServer's own FileSR) as <Name>SR.orig;
    # XAPI ignores it (the name no longer ends in SR) and it can be moved back.
    if [ -e "$dest/${t}SR" ] && [ "$(readlink "$dest/${t}SR" || true)" != sm-plugin ] && [ ! -e "$dest/${t}SR.orig" ]; then
        mv "$dest/${t}SR" "$dest/${t}SR.orig"
        echo "kept the previous $dest/${t}SR as ${t}SR.orig"
    fi
    ln -sfn sm-plugin "$dest/${t}SR"
    echo "installed $dest/${t}SR -> sm-plugin"
done
