print("sm-cli: placeholder")
