"""(placeholder: filled in by the activities work of issue 4)"""

route_handlers: list = []
