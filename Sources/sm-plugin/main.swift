print("sm-plugin placeholder")
