"""The guarding proxy: an OpenAI-compatible server applying blueprints in front of vLLM."""

from parlantish.server.app import BLUEPRINT_HEADER, create_app
from parlantish.server.config import ProxyConfig, load_blueprints

__all__ = ["BLUEPRINT_HEADER", "ProxyConfig", "create_app", "load_blueprints"]
