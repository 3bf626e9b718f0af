"""Gephi files of a resolution (`anthology-resolve graphs`): GEXF 1.3 and GraphML."""
