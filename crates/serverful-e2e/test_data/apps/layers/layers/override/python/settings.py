NAME = "override"
