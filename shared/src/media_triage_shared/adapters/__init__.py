"""AWS adapters implementing the ports in ``media_triage_shared.ports``."""
