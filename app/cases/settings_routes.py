"""(placeholder: filled in by the cases work of issue 5)"""

route_handlers: list = []
