import StorageIO
