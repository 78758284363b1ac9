"""``billing``: start billing runs, follow them, and read their bills, from a terminal."""
