
Ø

echo.proto	weft.test"Æ
EchoRequest
text (	Rtext
repeat (Rrepeat
delay_ms (RdelayMs
	fail_code (RfailCode!
fail_message] (	RfailMessage
payload (Rpayload"R
EchoResponse
text (	Rtext
index (Rindex
payload (Rpayload2à
Echo=
Unary.weft.test.EchoRequest.weft.test.EchoResponse"êA
ServerStream.weft.test.EchoRequest.weft.test.EchoResponse0A
Cli/ntStream.weft.test.EchoRequest.weft.test.EchoResponse(;
Bidi.weft.test.EchoRequest.weft.test.EchoResponse(0bproto3