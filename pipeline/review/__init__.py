"""Review pages: what a curator reads and decides on (`anthology-resolve review`)."""
