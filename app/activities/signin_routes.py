"""(placeholder: filled in by the activities work of issue 4)"""

route_handlers: list = []
public_route_handlers: list = []
