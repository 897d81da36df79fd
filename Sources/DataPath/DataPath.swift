import NBD
