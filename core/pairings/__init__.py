"""Pairings (tandems): the lifecycle, the agreement, meetings and check-ins."""
