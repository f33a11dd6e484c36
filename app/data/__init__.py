"""A county's data, in and out (PIPL): the full export of a tenant's records (county admins, and the
operator at a county's written request). Above the domains and presets (it reads every tenant table
and writes the configuration preset); the operator console uses it."""
