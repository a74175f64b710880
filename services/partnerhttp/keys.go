package partnerhttp

import (
	"crypto/ed25519"
	"encoding/base64"

	"github.com/gofiber/fiber/v2"
	"github.com/vnpass/vnpass/partner"
)

// KeyRequest registers another API key of a partner (platform admins), for
// a rotation: the partner makes a new key pair, sends the public half and
// a kid of its choice, and signs with it (kid in the header) once added.
type KeyRequest struct {
	KID       string `json:"kid"`
	PublicKey string `json:"public_key"` // base64url (no padding) of the 32-byte Ed25519 public key
}

// KeyJSON is a partner's key as the admin sees it.
type KeyJSON struct {
	PartnerID string `json:"partner_id"`
	KID       string `json:"kid"`
	PublicKey string `json:"public_key"`
	CreatedAt string `json:"created_at"`
	RetiredAt string `json:"retired_at,omitempty"`
	Active    bool   `json:"active"`
}

func keyJSON(k partner.Key) KeyJSON {
	j := KeyJSON{PartnerID: k.Partner, KID: k.KID, PublicKey: base64.RawURLEncoding.EncodeToString(k.PublicKey),
		CreatedAt: ts(k.CreatedAt), Active: k.Active()}
	if !k.Active() {
		j.RetiredAt = ts(k.RetiredAt)
	}
	return j
}

func (a *API) addKey(c *fiber.Ctx) error {
	var req KeyRequest
	if err := c.BodyParser(&req); err != nil {
		return problem(c, fiber.StatusBadRequest, "invalid", "Nội dung phải là JSON gồm kid và public_key. / The body must be JSON with kid and public_key.")
	}
	key, err := base64.RawURLEncoding.DecodeString(req.PublicKey)
	if err != nil || len(key) != ed25519.PublicKeySize {
		return problem(c, fiber.StatusBadRequest, "invalid",
			"public_key phải là khóa công khai Ed25519 (32 byte) mã hóa base64url. / public_key must be the base64url Ed25519 public key (32 bytes).")
	}
	k := partner.Key{Partner: c.Params("partner_id"), KID: req.KID, PublicKey: key}
	if err := k.Check(); err != nil {
		return problem(c, fiber.StatusBadRequest, "invalid",
			"kid phải gồm 1-64 chữ cái, chữ số, '.', '_' hoặc '-'. / kid must be 1-64 letters, digits, '.', '_' or '-'.")
	}
	k, err = a.cfg.Store.AddPartnerKey(c.UserContext(), k)
	if err != nil {
		return a.fail(c, err)
	}
	return c.Status(fiber.StatusCreated).JSON(keyJSON(k))
}

// retireKey retires a partner's key at once: its tokens are refused from
// the next request.
func (a *API) retireKey(c *fiber.Ctx) error {
	k, err := a.cfg.Store.RetirePartnerKey(c.UserContext(), c.Params("partner_id"), c.Params("kid"))
	if err != nil {
		return a.fail(c, err)
	}
	return c.JSON(keyJSON(k))
}
