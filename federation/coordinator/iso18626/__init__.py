"""The ISO 18626 gateway: outside libraries lending to and borrowing from the network.

``messages`` reads and writes ISO 18626 v1.2 XML and checks it against the
standard's schema (shipped beside it); ``inbound`` applies what peers POST to
``/iso18626``; ``client`` sends ours. Peers are configured in coordinator.toml
(``[[coordinator.peers]]``) and sit in rotas like nodes (docs/iso18626.md).
"""
