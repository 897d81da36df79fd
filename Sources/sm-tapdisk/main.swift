print("sm-tapdisk placeholder")
