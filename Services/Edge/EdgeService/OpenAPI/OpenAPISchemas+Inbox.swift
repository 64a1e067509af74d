/// Schemas of agents, channels, webhooks and the inbox.
extension OpenAPISchemas {
    static let integer: JSONValue = .object([("type", "integer")])
    static let boolean: JSONValue = .object([("type", "boolean")])
    static let anyObject: JSONValue = .object([("type", "object")])
    static let nullableObject: JSONValue = .object([("type", .array(["object", "null"]))])

    static var channelSettings: [(String, JSONValue)] {
        [
            ("name", string(nullable: true)), ("phoneNumberId", string(nullable: true)),
            ("displayPhoneNumber", string(nullable: true)), ("businessAccountId", string(nullable: true)),
            ("accessToken", string(nullable: true, "write-only: answered as ******** when set")),
            ("appSecret", string(nullable: true, "write-only")), ("verifyToken", string(nullable: true, "write-only")),
            ("graphApiBaseUrl", string(nullable: true)), ("graphApiVersion", string(nullable: true)),
            ("accountSid", string(nullable: true)), ("authToken", string(nullable: true, "write-only")),
            ("fromNumber", string(nullable: true)), ("messagingServiceSid", string(nullable: true)),
            ("apiBaseUrl", string(nullable: true)), ("webhookUrl", string(nullable: true)),
            ("messagesPerSecond", type("integer", nullable: true)),
        ]
    }

    static var inbox: [(String, JSONValue)] {
        [
            (
                "Agent",
                object([
                    ("id", string()), ("name", string()), ("email", string()), ("role", string()),
                    ("createdAt", time), ("updatedAt", time),
                ])
            ),
            ("AgentList", object([("data", array(ref("Agent")))], required: ["data"])),
            ("ChannelInput", OpenAPIChannels.create),
            ("ChannelPatch", OpenAPIChannels.patch),
            (
                "Channel",
                object(
                    [
                        ("id", string()), ("kind", enumeration(["whatsapp_cloud", "twilio_sms", "sandbox"])),
                        ("status", string()), ("createdAt", time), ("updatedAt", time),
                    ] + channelSettings)
            ),
            ("ChannelList", object([("data", array(ref("Channel")))], required: ["data"])),
            ("SandboxInbound", OpenAPISends.sandbox),
            (
                "SandboxAccepted",
                object([("channelId", string()), ("messageId", string()), ("journalId", string())])
            ),
            (
                "WhatsAppWebhook",
                object(
                    [
                        ("object", .object([("description", "not read (Meta sends whatsapp_business_account)")])),
                        ("entry", array(anyObject)),
                    ], required: ["entry"], closed: false)
            ),
            ("WebhookAccepted", object([("status", enumeration(["accepted", "unknown_channel"]))])),
            (
                "Conversation",
                object([
                    ("id", string()),
                    (
                        "contact",
                        object([
                            ("id", string()), ("name", string(nullable: true)), ("phone", string(nullable: true)),
                            ("whatsappUsername", string(nullable: true)),
                        ])
                    ),
                    ("channelId", string()), ("channel", enumeration(["whatsapp", "sms"])),
                    ("status", enumeration(["OPEN", "ASSIGNED", "RESOLVED", "BOT_ACTIVE", "AI_ACTIVE"])),
                    ("assigneeId", string(nullable: true)), ("lastActivityAt", time), ("lastInboundAt", time),
                    ("unreadCount", integer), ("starred", boolean), ("archived", boolean), ("window", nullableObject),
                    ("lastMessage", nullableObject), ("createdAt", time), ("resolvedAt", time), ("deletedAt", time),
                    ("replyChannel", enumeration(["whatsapp", "sms"])), ("replyChannelId", string()),
                    ("waitingSince", time),
                ])
            ),
            ("ConversationList", list("Conversation")),
            (
                "Message",
                object([
                    ("id", string()), ("conversationId", string()), ("contactId", string()), ("channelId", string()),
                    ("direction", enumeration(["inbound", "outbound"])), ("type", string()), ("text", string()),
                    ("content", anyObject), ("providerMessageId", string(nullable: true)), ("status", string()),
                    ("error", nullableObject), ("replyTo", string(nullable: true)), ("forwarded", boolean),
                    ("sentAt", time), ("recordedAt", time), ("statusAt", time),
                    ("senderAgentId", string(nullable: true)),
                ])
            ),
            ("MessageList", list("Message")),
            ("SendInput", OpenAPISends.input(toContact: false)),
            ("ContactSendInput", OpenAPISends.input(toContact: true)),
            (
                "ConversationPatch",
                object([
                    ("status", enumeration(["OPEN", "RESOLVED", "BOT_ACTIVE", "AI_ACTIVE"])), ("starred", boolean),
                    ("archived", boolean),
                ])
            ),
            ("AssignInput", object([("agentId", F.text(min: 1, max: 64, "an agent id or \"me\""))], required: ["agentId"])),
            ("BulkInput", OpenAPISends.bulk),
            ("BulkResult", object([("affected", integer)])),
            ("ConversationCount", object([("count", integer)], required: ["count"])),
            ("ImportErrorList", object([("data", array(anyObject))], required: ["data"])),
            (
                "QuickReply",
                object([
                    ("id", string()), ("shortcut", string()), ("content", string()), ("variables", array(string())),
                    ("createdAt", time), ("updatedAt", time),
                ])
            ),
            ("QuickReplyList", object([("data", array(ref("QuickReply")))], required: ["data"])),
            ("RenderInput", object([("contactId", string()), ("conversationId", string())])),
            ("Rendered", object([("text", string())])),
            ("TemplateInput", OpenAPISends.templateInput),
            (
                "Template",
                object([
                    ("id", string()), ("channelId", string()), ("name", string()), ("language", string()),
                    ("category", string()), ("status", string()), ("components", array(anyObject)),
                    ("parameters", anyObject), ("createdAt", time),
                ])
            ),
            ("TemplateList", object([("data", array(ref("Template")))], required: ["data"])),
            (
                "TimelineItem",
                object([
                    ("id", string()),
                    ("kind", enumeration(["message", "conversation", "consent", "tags", "contact", "import", "csat", "attribution"])),
                    ("type", string("the event type, e.g. message.sent")), ("at", time),
                    ("conversationId", string(nullable: true)), ("messageId", string(nullable: true)),
                    ("details", anyObject),
                ])
            ),
            ("Timeline", list("TimelineItem")),
            ("Report", object([("from", string("YYYY-MM-DD")), ("to", string("YYYY-MM-DD"))], closed: false)),
            (
                "CsatSettings",
                object([
                    ("enabled", type("boolean")), ("question", string()), ("templateName", string(nullable: true)),
                    ("templateLanguage", string()), ("cooldownHours", type("integer")),
                ])
            ),
        ]
    }
}
