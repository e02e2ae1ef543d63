package puppetpb

// The message types as the puppet service really sends them. Its server (wechaty-puppet-
// service) copies the puppet's payload.type into MessagePayloadResponse.type unchanged, so
// the numbers on the wire are wechaty-puppet's MessageType (schemas/message.ts), which differ
// from this proto's enum names from 4 on (the proto's MESSAGE_TYPE_TEXT is 6; a real service
// sends a text as 7). Read the type with these. (Hand-written: gen.sh keeps it.)
const (
	WireUnknown     MessageType = 0
	WireAttachment  MessageType = 1
	WireAudio       MessageType = 2
	WireContact     MessageType = 3
	WireChatHistory MessageType = 4
	WireEmoticon    MessageType = 5
	WireImage       MessageType = 6
	WireText        MessageType = 7
	WireLocation    MessageType = 8
	WireMiniProgram MessageType = 9
	WireGroupNote   MessageType = 10
	WireTransfer    MessageType = 11
	WireRedEnvelope MessageType = 12
	WireRecalled    MessageType = 13
	WireURL         MessageType = 14
	WireVideo       MessageType = 15
	WirePost        MessageType = 16
	// WireSystem is no wechaty-puppet type; some puppets send system notices as 18, the
	// proto's MESSAGE_TYPE_SYSTEM.
	WireSystem MessageType = 18
)
