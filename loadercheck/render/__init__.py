"""Renderers: a Report in, a string out. They format; they compute nothing."""
