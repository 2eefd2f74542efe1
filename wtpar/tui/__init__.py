"""The Textual dashboard (`wtpar dash`); imported only by that command."""
