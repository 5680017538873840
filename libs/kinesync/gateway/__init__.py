"""Gateway mechanics: validation, sequence-gap counting, a bounded publish buffer that survives
broker outages, and the health model that shows every counter."""

from kinesync.gateway.health import DeviceHealth, GatewayHealth, GatewayStats
from kinesync.gateway.publisher import BufferLimits, Publisher

__all__ = ["BufferLimits", "DeviceHealth", "GatewayHealth", "GatewayStats", "Publisher"]
