"""Primitive transforms, one module per technique family (import them from ``optchain``)."""
