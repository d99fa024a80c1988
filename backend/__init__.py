"""The Label Studio ML backend: groundlabel's detector behind Label Studio's ML protocol.

Web and Label Studio code (FastAPI, httpx, label-studio-sdk) lives here and never in
``groundlabel/``, so ``groundlabel detect`` and the desktop reviewer stay free of it.
"""
