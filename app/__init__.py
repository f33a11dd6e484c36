"""Lianluo (联络): deputies' homes and liaison stations, as a hosted multi-tenant product."""
