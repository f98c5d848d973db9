"""The stand-in gateway of the API tests hears the commands a button press becomes."""

from tests.api.conftest import band_commands  # noqa: F401
