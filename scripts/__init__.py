"""Runnable helpers beside the package: the scaled-out set-up (`python -m scripts.scale_out`)
and the nginx configuration it and the tests share. Standard library only, plus what the
project already depends on."""
