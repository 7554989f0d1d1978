
kernel-selftest75ègactorÿ"PingÀ€*
keyí €value
with newlineþÐga"PongÐ *Propÿ