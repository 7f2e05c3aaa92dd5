// Package identity is who a till and head office are to each other and to the broker: the
// files provisioning writes to a till's data partition, and the fleet's certificate
// authority that head office keeps.
//
// What it guarantees:
//
//   - Provision creates, in the till's key directory, an ed25519 device key (it signs
//     every journal entry), an ECDSA P-256 TLS client key and a certificate request whose
//     common name is "store/till", which is the till's username at the broker
//     (use_identity_as_username) and so the only topics it may use. It never overwrites an
//     existing identity: a till's keys change only when a technician removes them.
//   - Private keys are written 0600, through a temporary file, fsync'd and renamed, so a
//     power cut leaves the old file or the new one. They are never formatted into an error,
//     a log line or a String(): only public keys and file names are.
//   - The CA signs a request only when its common name is a valid "store/till" (or, for
//     head office's own accounts, a single name without '/', which no till pattern can
//     match), and only for client authentication. Revoke adds a certificate to the CA's
//     certificate revocation list (crl.pem), which the broker reads (crlfile).
//   - The CA keeps an inventory of every certificate it issued (inventory.json). It
//     refuses a second certificate for a till that holds one in force unless replacing it
//     (SignReplacing revokes the old ones); RevokeName revokes by till. Certificates last
//     CertValidity (a year) unless CA.Validity says otherwise. Renewal runs over MQTT: the
//     till's RenewalRequest is signed with its device key, HQ's AnswerRenewal is signed
//     with HQ's key, and InstallRenewal swaps key and certificate so that a power cut at
//     any point leaves the old pair or the new one (Load finishes the swap). A loaded
//     identity's TLS configuration reads the pair again when the files change.
//   - The CA also holds head office's ed25519 signing key, whose public half tills are
//     given at provisioning to verify catalogs and commands.
package identity
