"""(placeholder: filled in by the cases work of issue 5)"""

public_route_handlers: list = []
