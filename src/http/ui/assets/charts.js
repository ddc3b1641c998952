// Charts (test and agent detail) land here.
