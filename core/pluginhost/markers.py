import pluggy

PROJECT_NAME = "tandem"
ENTRY_POINT_GROUP = "tandem.plugins"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
