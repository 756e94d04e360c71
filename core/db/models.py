"""Import every model module so that ``Base.metadata`` is complete (migrations, tests)."""

from core.db.base import Base


def load_all_models() -> type[Base]:
    import core.applications.models
    import core.identity.attempts
    import core.identity.invitations
    import core.identity.models
    import core.jobs.models
    import core.pairings.models
    import core.pluginhost.models
    import core.programmes.models
    import core.tenancy.models  # noqa: F401

    return Base
