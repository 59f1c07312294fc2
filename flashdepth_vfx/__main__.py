"""``python -m flashdepth_vfx`` runs the command-line tool."""
from .cli import main

main()
