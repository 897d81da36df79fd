// NBD protocol (placeholder)
