
kernel-selftest0.node-0server"ServerStarted*
capacity20.node-1server"ServerStarted*
capacity10.node-2server"ServerStarted*
capacity4