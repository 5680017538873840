"""Odd but valid recordings, written on demand, and what `kinesync analyze` makes of them."""
