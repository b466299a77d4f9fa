"""`libfed demo`: a federation of real libraries on this machine, one process each.

The records shipped in ``federation/demo/data/`` are permissively licensed
samples (see ``data/SOURCES.md``); overlapping slices of them make several
libraries hold the same books, so the union catalog has real clusters and loans
have real choices of lender.
"""
