"""Export and import dialogs (placeholder until the formats module lands)."""

from __future__ import annotations
