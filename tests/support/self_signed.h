// A self-signed certificate for the loopback (subjectAltName IP:127.0.0.1
// and DNS:localhost, RSA 2048, valid 2 days), made with the openssl
// command in a temporary directory and removed with it: the server's
// cert_file/key_file and, as its own CA, the client's ca_file. For C++
// tests; one per test program is enough (openssl takes a moment).
#ifndef WEFT_TEST_SELF_SIGNED_H
#define WEFT_TEST_SELF_SIGNED_H

#include <stdlib.h>

#include <string>

struct WeftTestCert {
  std::string dir, cert, key;
  bool ok = false; // openssl succeeded
  explicit WeftTestCert(const char *tag = "cert") {
    std::string tmpl = std::string("/tmp/weft-") + tag + "-XXXXXX";
    if (!mkdtemp(&tmpl[0]))
      return;
    dir = tmpl;
    std::string cmd = "cd " + dir +
                      " && openssl req -x509 -newkey rsa:2048 -nodes -days 2 "
                      "-subj '/CN=localhost' -addext "
                      "'subjectAltName=IP:127.0.0.1,DNS:localhost' "
                      "-keyout key.pem -out cert.pem 2>/dev/null";
    ok = system(cmd.c_str()) == 0;
    cert = dir + "/cert.pem";
    key = dir + "/key.pem";
  }
  ~WeftTestCert() {
    if (!dir.empty()) {
      std::string cmd = "rm -rf " + dir;
      (void)!system(cmd.c_str());
    }
  }
  WeftTestCert(const WeftTestCert &) = delete;
  WeftTestCert &operator=(const WeftTestCert &) = delete;
};

#endif
