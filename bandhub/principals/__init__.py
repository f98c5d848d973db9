"""Who may do what on the broker: gateways as principals with their own credentials.

``gateways`` is the service (register, bind, unbind, revoke, list) that the CLI and the
API call; ``store`` its database half, ``broker_acl`` the ACLs each principal gets,
``dynsec`` the admin client of mosquitto's dynamic-security plugin that applies them,
``credentials`` the file a gateway process reads its broker login from.
"""
