error: Invalid character '-': '-' and '>' may only form the arrow '->' (at position 5 of "ij,jk-")
