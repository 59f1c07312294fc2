"""``python -m flashdepth_vfx`` runs the command-line tool."""
import sys

try:
    from .cli import main
except KeyboardInterrupt:  # Ctrl-C while the tool starts: a cancel, as it is once running
    sys.stderr.write("cancelled\n")
    sys.exit(130)

main()
