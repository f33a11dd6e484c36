"""A member's home page in a tenant (/t/<slug>/): what waits for them, drawn from every domain."""
