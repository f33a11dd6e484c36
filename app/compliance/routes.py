"""(placeholder: filled in by the compliance work of issue 4)"""

route_handlers: list = []
