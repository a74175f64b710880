// Package proto is the versioned wire contract between gate agents and the
// vnpass services: MQTT topics and the messages carried on them (taps,
// decisions, device status, device config), with strict decoders that treat
// every byte from a gate as untrusted.
//
// Version 1 is encoded as JSON; README.md says why. The major version lives
// in the topic (vnpass/v1/...) and in every message ("v":1), so a v2 can run
// beside v1 on the same broker while gates are upgraded.
//
// This package imports only the standard library.
package proto
