"""Moved to `specs.layout` (the typed layout lives with the data it types). This alias keeps
branches written before the move importable; new code imports `specs.layout`."""

from specs.layout import OPERATIONS, STRUCTURES, DFSpec, EFSpec, Layout, layout

__all__ = ["OPERATIONS", "STRUCTURES", "DFSpec", "EFSpec", "Layout", "layout"]
