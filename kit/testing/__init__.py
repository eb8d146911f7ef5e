"""Test helpers that ship with kit: servers on free ports, fakes, collectors."""
