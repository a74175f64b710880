package agent

import mqtt "github.com/eclipse/paho.mqtt.golang"

// SetOpenConn makes a open its network connections with f. Call before Connect.
func SetOpenConn(a *Agent, f mqtt.OpenConnectionFunc) { a.openConn = f }
