"""Shopify order webhooks: not a channel (no one writes to us there), so not in adapters.REGISTRY;
web/routes/shopify.py is its caller."""

from adapters.shopify.adapter import Adapter

__all__ = ["Adapter"]
