// NFS store: placeholder until the NFS SR lands.
import CNFS
